-- pandoc filter for the gallery's notebooks (sphinx_gallery_conf["pypandoc"] in docs/conf.py):
-- the text cells are written in reST for Sphinx; in Jupyter they must read as plain Markdown.
--
-- * Sphinx roles (:func:`padmods.convert`, :class:`~padmods.PartialConv2d`) reach pandoc as code
--   with a "role" attribute; they become plain code, the way Sphinx shows them (a leading "~"
--   keeps only the last name, "Title <target>" keeps the title).
-- * Cross-references (:ref:`Scheidl (2021) <ref-scheidl2021>`, :doc:`/references`) become links
--   that work outside the site: to the source itself for the list of sources, else to the page on
--   the published docs, as docs/_ext/padmods_notebook_links.py wrote them to the JSON file named
--   by PADMODS_NOTEBOOK_LINKS.
-- * Admonitions (".. admonition:: References") become their content under a bold title, instead of
--   a fenced div that Jupyter would print as ":::".
-- * Each text cell is converted on its own, so pandoc makes the first kind of heading in a cell
--   level 1. Only the notebook's title keeps level 1 (it carries the gallery-... label); every
--   other heading goes one level down, so the sections sit under the title as on the site.

local links = {}
local path = os.getenv("PADMODS_NOTEBOOK_LINKS")
if path ~= nil then
  local file = io.open(path, "r")
  if file ~= nil then
    links = pandoc.json.decode(file:read("a"), false)
    file:close()
  end
end

function Code(element)
  local role = element.attributes["role"]
  if role == nil then
    return nil
  end
  local text = element.text
  local target = text
  local title = text:match("^(.-)%s*<[^>]*>$")
  if title ~= nil and title ~= "" then
    target = text:match("<([^>]*)>$")
    text = title
  elseif text:sub(1, 1) == "~" then
    text = text:match("([^.~]+)$") or text:sub(2)
  end
  if role == "ref" or role == "doc" then
    local key = target
    if role == "doc" and key:sub(1, 1) ~= "/" then
      key = "/" .. key
    end
    local link = links[key]
    if link == nil then
      return pandoc.Emph({pandoc.Str(text)})
    end
    if title == nil or title == "" then
      text = link["title"]
    end
    return pandoc.Link({pandoc.Str(text)}, link["url"])
  end
  return pandoc.Code(text)
end

function Div(element)
  if not element.classes:includes("admonition") then
    return nil
  end
  local blocks = element.content
  local out = {}
  for index, block in ipairs(blocks) do
    if index == 1 and block.t == "Para" then
      table.insert(out, pandoc.Para({pandoc.Strong(block.content)}))
    else
      table.insert(out, block)
    end
  end
  return out
end

-- Headings keep their text only: a Sphinx label (".. _gallery-pixel-impact:") would otherwise
-- follow the title as "{#gallery-pixel-impact}", which Jupyter prints. That label is also how the
-- title is told from the sections.
function Header(element)
  local is_title = element.identifier:match("^gallery%-") ~= nil
  element.attr = pandoc.Attr()
  if not is_title then
    element.level = element.level + 1
  end
  return element
end
