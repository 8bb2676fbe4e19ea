-- Split an item in two: the shipping address moves out of the order into
-- an item of its own (pk = "<order pk>#ADDRESS"), written with ddb.put.
function migrate(item, ctx)
  local address = item.address
  if address == nil then
    return nil
  end
  ddb.put{
    pk = item.pk .. "#ADDRESS",
    street = address.street,
    city = address.city,
    order = item.pk,
  }
  item.address = nil
  return item
end
