-- A resource's events were indexed twice in the same order: by (resource_id, seq) and, since
-- each event carries its place among its resource's events, by (resource_id, sequence). Every
-- event inserted paid for both. The unique index on the place serves reading a resource's
-- events in order and numbering the next one.
DROP INDEX events_by_resource;
