-- pandoc filter for the gallery's notebooks (sphinx_gallery_conf["pypandoc"] in docs/conf.py):
-- the text cells are written in reST for Sphinx; in Jupyter they must read as plain Markdown.
--
-- * Sphinx roles (:func:`padmods.convert`, :class:`~padmods.PartialConv2d`, :ref:`label`) reach
--   pandoc as code with a "role" attribute; they become plain code, the way Sphinx shows them
--   (a leading "~" keeps only the last name, "Title <target>" keeps the title).
-- * Admonitions (".. admonition:: References") become their content under a bold title, instead of
--   a fenced div that Jupyter would print as ":::".

function Code(element)
  local role = element.attributes["role"]
  if role == nil then
    return nil
  end
  local text = element.text
  local title = text:match("^(.-)%s*<[^>]*>$")
  if title ~= nil and title ~= "" then
    text = title
  elseif text:sub(1, 1) == "~" then
    text = text:match("([^.~]+)$") or text:sub(2)
  end
  if role == "ref" or role == "doc" then
    return pandoc.Emph({pandoc.Str(text)})
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
-- follow the title as "{#gallery-pixel-impact}", which Jupyter prints.
function Header(element)
  element.attr = pandoc.Attr()
  return element
end
