-- The area an event affects (issue 15): a water isolation or a power outage published by an
-- operator carries the pipes or lines it takes out of service, so the IOC display draws the
-- area and not only the event's point. WGS 84 like `location`; any geometry type.
ALTER TABLE ioc.events ADD COLUMN area geometry(Geometry, 4326);
