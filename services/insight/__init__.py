"""The insight app: durable counts for the programme lead's page (/insight)."""
