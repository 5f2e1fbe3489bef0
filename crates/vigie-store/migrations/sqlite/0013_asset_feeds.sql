-- Asset health replays in arrival order (#14): each reading remembers which feed of
-- its asset's model gave it to the model (the asset's `fed_version` after that
-- request), so a reload replays the readings request by request, as they arrived,
-- when an asset's sensors come in separate requests. NULL: fed before this column, or
-- never (detection off, or the series in no asset then).
ALTER TABLE readings ADD COLUMN asset_feed INTEGER;
