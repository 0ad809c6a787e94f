# METADATA
# title: Template allowlist
# description: >
#   A request may only name a blueprint that exists and that its tenant may
#   use. Blueprints are pre-approved configurations (seed 003); an unknown or
#   disallowed one is refused with the list of those that are allowed.
# custom:
#   severity: medium
package spawngate.templates

import rego.v1

import data.spawngate.lib

_tenant := lib.str(input, ["creator", "tenant"])

_name := lib.str(input, ["template", "name"])

_allowed := {t | some t in data.spawngate.templates.tenants[_tenant]} if {
	is_array(data.spawngate.templates.tenants[_tenant])
} else := lib.items(input, ["catalog"])

# METADATA
# title: Unknown template
# custom:
#   id: SG-TPL-001
deny contains lib.reason("SG-TPL-001", message, "name one of the available templates, or omit 'template'") if {
	object.get(input, ["template", "exists"], false) != true
	message := lib.msg(["unknown template '", _name, "' (available: ", lib.listing(_allowed), ")"])
}

# METADATA
# title: Template not allowed in the tenant
# custom:
#   id: SG-TPL-002
deny contains lib.reason("SG-TPL-002", message, lib.msg(["use one of: ", lib.listing(_allowed)])) if {
	object.get(input, ["template", "exists"], false) == true
	not _name in _allowed
	message := lib.msg(["template '", _name, "' is not allowed in tenant '", _tenant, "' (allowed: ", lib.listing(_allowed), ")"])
}
