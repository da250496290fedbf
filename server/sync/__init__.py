"""Atlassian sync (DESIGN §16): the API Access client and its job, which mirror org admin API keys and user
API tokens into key records and list directories with no recorded SCIM expiry. May import domain and store,
never flask: the web room calls it, not the other way round."""
