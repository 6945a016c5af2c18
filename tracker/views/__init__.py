"""Pages, one module per area. Thin: permissions come from `tracker.permissions`, writes go through
`tracker.actions`."""
