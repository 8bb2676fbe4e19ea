-- Reformat a sort key: "2025-03-07" becomes "DATE#2025-03-07". A key
-- change moves the item: ddbmig puts the new item and deletes the old one
-- in one transaction, guarded against concurrent writes.
function migrate(item, ctx)
  local sk = item.sk
  if type(sk) ~= "string" or sk:find("^DATE#") then
    return nil
  end
  item.sk = "DATE#" .. sk
  return item
end
