"""The analysts' flat tables: their columns, the SQL that derives them from a DynamoDB export, and
the saved queries that read them. Infra (Glue tables, the export workflow's Athena UNLOADs, Athena
named queries) and the local stack (the same SQL on DuckDB) both build from this package, so what
the tests run is what Athena runs.
"""
