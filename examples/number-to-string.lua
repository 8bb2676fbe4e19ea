-- Change an attribute's type: zip codes stored as numbers lose their
-- leading zeros, so store them as five-character strings instead.
-- tostring() of a DynamoDB number is exact, whatever its size.
function migrate(item, ctx)
  local zip = item.zip
  if zip == nil or type(zip) == "string" then
    return nil
  end
  item.zip = string.format("%05d", math.tointeger(zip) or zip:tointeger())
  return item
end
