-- Delete the items matching a condition: cancelled orders older than 2025.
function migrate(item, ctx)
  if item.status == "CANCELLED" and type(item.createdAt) == "string" and item.createdAt < "2025" then
    return ddb.DELETE
  end
  return nil
end
