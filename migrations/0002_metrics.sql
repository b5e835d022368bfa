-- Time series of every poll. One row per monitor and timestamp (the writer's idempotency key);
-- volumes and interfaces keep the per-volume / per-interface breakdowns.
-- With the timescaledb extension available this is a hypertable with daily chunks; otherwise
-- it is natively RANGE-partitioned by day and the application creates partitions ahead and
-- drops them past retention (lib/metrics/partitions.ts).
DO $$
DECLARE
  has_timescale boolean := false;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS timescaledb;
      has_timescale := true;
    EXCEPTION WHEN others THEN
      RAISE NOTICE 'timescaledb is available but cannot be created (%); using native partitions', SQLERRM;
    END;
  END IF;

  EXECUTE $sql$
    CREATE TABLE metrics (
      monitor_id        integer NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
      ts                timestamptz NOT NULL,
      cpu_percent       real,
      memory_total      bigint,
      memory_used       bigint,
      disk_total        bigint,
      disk_used         bigint,
      net_sent_bps      double precision,
      net_recv_bps      double precision,
      net_packets_sent  bigint,
      net_packets_recv  bigint,
      net_errors        bigint,
      net_discards      bigint,
      net_utilization   real,
      process_count     integer,
      collection_ms     integer,
      volumes           jsonb,
      interfaces        jsonb,
      PRIMARY KEY (monitor_id, ts)
    )$sql$ || CASE WHEN has_timescale THEN '' ELSE ' PARTITION BY RANGE (ts)' END;

  IF has_timescale THEN
    PERFORM create_hypertable('metrics', 'ts', chunk_time_interval => interval '1 day');
  ELSE
    -- Catches rows outside the partitions made ahead (clock skew, late data) so none is lost.
    EXECUTE 'CREATE TABLE metrics_default PARTITION OF metrics DEFAULT';
  END IF;
END
$$;
