"""Google Cloud: Cloud Storage (``gcs``) and BigQuery (``bigquery``), on one account (``account``).

Imported lazily: the Google client libraries load when a connector first makes a client.
"""
