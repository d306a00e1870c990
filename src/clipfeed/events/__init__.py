"""Client event ingestion (``POST /v1/events``) and the topics engagement signals travel on."""
