-- TimescaleDB only: compression of week-old chunks and an hourly continuous aggregate. Without
-- the extension (PGlite, plain PostgreSQL) this does nothing: native partitions stay managed by
-- lib/metrics/partitions.ts. Retention is not set here but by the application from its
-- configuration at every start (lib/metrics/timescale.ts applyRetention).
-- Every TimescaleDB statement is dynamic SQL, so this file parses and plans without it. The
-- aggregate is created WITH NO DATA because only WITH DATA refuses to run inside the
-- transaction the migration runner wraps every migration in; its policy fills it.
DO $$
DECLARE
  is_hypertable boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    RETURN;
  END IF;
  -- 0002 made metrics a hypertable only if the extension already existed then.
  EXECUTE $q$SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                            WHERE hypertable_name = 'metrics')$q$
    INTO is_hypertable;
  IF NOT is_hypertable THEN
    RAISE NOTICE 'timescaledb is installed but metrics is not a hypertable; no policies set';
    RETURN;
  END IF;

  -- Queries read one monitor over a time range: segment by monitor, newest first.
  EXECUTE $q$ALTER TABLE metrics SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'monitor_id',
    timescaledb.compress_orderby = 'ts DESC'
  )$q$;
  EXECUTE $q$SELECT add_compression_policy('metrics', INTERVAL '7 days', if_not_exists => true)$q$;

  -- Real-time (materialized_only = false, no longer the default since 2.13): reads add the
  -- not yet materialized recent hours from raw rows, so the rollup is never behind.
  EXECUTE $q$CREATE MATERIALIZED VIEW metrics_hourly
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket,
           monitor_id,
           avg(cpu_percent) AS cpu_percent_avg,
           min(cpu_percent) AS cpu_percent_min,
           max(cpu_percent) AS cpu_percent_max,
           avg(memory_used) AS memory_used_avg,
           max(memory_total) AS memory_total,
           avg(disk_used) AS disk_used_avg,
           max(disk_total) AS disk_total,
           avg(net_sent_bps) AS net_sent_bps_avg,
           avg(net_recv_bps) AS net_recv_bps_avg,
           avg(process_count) AS process_count_avg,
           count(*) AS samples
    FROM metrics
    GROUP BY bucket, monitor_id
    WITH NO DATA$q$;
  -- Materializes hourly up to an hour ago and folds in late rows up to 3 days old.
  -- applyRetention narrows start_offset when retention is shorter than 3 days, so a refresh
  -- never recomputes (and empties) buckets whose raw rows were already dropped.
  EXECUTE $q$SELECT add_continuous_aggregate_policy('metrics_hourly',
    start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour',
    if_not_exists => true)$q$;
END
$$;
