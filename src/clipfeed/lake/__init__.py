"""The analytics lake: events compacted into Parquet by date and hour in the object store, and
batch jobs (one SQL definition, run by DuckDB or Spark) over it."""
