-- The classic: give every item an updatedAt timestamp.
-- Items that already have one are left alone, so running it twice (or
-- resuming it) changes nothing the second time.
function migrate(item, ctx)
  if item.updatedAt ~= nil then
    return nil
  end
  item.updatedAt = ctx.now
  return item
end
