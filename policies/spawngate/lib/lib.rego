# METADATA
# title: Shared helpers
# description: >
#   Small pure functions used by every spawngate policy. They never turn a
#   missing field into "undefined": a missing list is an empty set and a
#   missing string is "none", so a deny that depends on them still fires.
#   Messages are joined with msg() rather than sprintf("%s"): the embedded
#   interpreter (rego-cpp) quotes strings produced by builtins under %s.
package spawngate.lib

import rego.v1

# METADATA
# title: reason
# description: One deny or review reason, as every policy reports it.
reason(rule, message, fix) := {"rule": rule, "message": message, "fix": fix}

# METADATA
# title: msg
# description: Joins message parts (strings) into one message.
msg(parts) := concat("", parts)

# METADATA
# title: items
# description: The set of items of the array at path in doc; empty when missing or not an array.
items(doc, path) := {v | some v in _array(object.get(doc, path, []))}

# METADATA
# title: str
# description: The string at path in doc, or "none" when it is missing or not a string.
str(doc, path) := s if {
	s := object.get(doc, path, null)
	is_string(s)
} else := "none"

# METADATA
# title: number
# description: The number at path in doc, or default_value when it is missing or not a number.
number(doc, path, default_value) := n if {
	n := object.get(doc, path, null)
	is_number(n)
} else := default_value

# METADATA
# title: num
# description: A number as text, for messages.
num(n) := sprintf("%v", [n])

# METADATA
# title: listing
# description: A sorted, comma-separated listing of a set or array, or "none" when empty.
listing(xs) := concat(", ", sort([x | some x in xs])) if {
	count(xs) > 0
} else := "none"

_array(x) := x if is_array(x)

_array(x) := [] if not is_array(x)
