-- PostGIS is the spatial core; the platform schema holds bando's own bookkeeping.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS platform;
