"""Entry points above the flows: the `payflows` command, the web app, the business-day demo."""
