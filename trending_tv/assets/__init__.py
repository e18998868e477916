"""The assets, one module per asset or per group of sibling assets (raw, dimensions), plus what they
share: `daily` (the decorator every asset uses), `metadata` (tables for the UI), `integrity`
(checks between tables). trending_tv.definitions loads every asset and check of this package."""
