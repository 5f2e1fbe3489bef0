-- Reading labels (the public data-bridge page's `labels`): a reading's set of labels
-- as ',a,b,' (sorted; the separators let a filter match whole labels), NULL for none.
-- `series_labels` keeps every label a series' readings have carried, for `/series`.
ALTER TABLE readings ADD COLUMN labels TEXT;

CREATE TABLE series_labels (
    series_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (series_id, label)
) WITHOUT ROWID;
