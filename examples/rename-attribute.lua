-- Rename an attribute: customer -> customerId. The value moves as it is
-- (any type), and the old name is removed in the same write.
function migrate(item, ctx)
  if item.customer == nil then
    return nil
  end
  item.customerId = item.customer
  item.customer = nil
  return item
end
