-- Fill the attributes of a new global secondary index: orders by customer,
-- newest first. gsi1pk/gsi1sk are written only where both parts exist.
function migrate(item, ctx)
  if item.customer == nil or item.createdAt == nil then
    return nil
  end
  local pk = "CUSTOMER#" .. item.customer
  local sk = "ORDER#" .. item.createdAt
  if item.gsi1pk == pk and item.gsi1sk == sk then
    return nil
  end
  item.gsi1pk = pk
  item.gsi1sk = sk
  return item
end
