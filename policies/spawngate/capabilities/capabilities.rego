# METADATA
# title: Capability and provider allowlists
# description: >
#   A new agent may only get capabilities its tenant allows and, when it comes
#   from a blueprint with capability modules, only modules that blueprint
#   offers. Its model provider must be on the allowlist.
# custom:
#   severity: high
package spawngate.capabilities

import rego.v1

import data.spawngate.lib

_tenant := lib.str(input, ["creator", "tenant"])

_requested := lib.items(input, ["effective", "capabilities"])

_tenant_allowed := {c | some c in data.spawngate.capabilities.tenants[_tenant]} if {
	is_array(data.spawngate.capabilities.tenants[_tenant])
} else := {c | some c in data.spawngate.capabilities.default_allowed}

# METADATA
# title: Capability not allowed in the tenant
# custom:
#   id: SG-CAP-001
deny contains lib.reason("SG-CAP-001", message, lib.msg(["drop capabilities ", lib.listing(extra)])) if {
	extra := _requested - _tenant_allowed
	count(extra) > 0
	message := lib.msg(["capabilities not allowed in tenant '", _tenant, "': ", lib.listing(extra), " (allowed: ", lib.listing(_tenant_allowed), ")"])
}

# METADATA
# title: Capability not offered by the template
# custom:
#   id: SG-CAP-002
deny contains lib.reason("SG-CAP-002", message, fix) if {
	offered := lib.items(input, ["template", "capability_modules"])
	count(offered) > 0
	extra := _requested - offered
	count(extra) > 0
	message := lib.msg(["template '", lib.str(input, ["template", "name"]), "' offers no capability module ", lib.listing(extra), " (it offers: ", lib.listing(offered), ")"])
	fix := lib.msg(["drop capabilities ", lib.listing(extra), ", or choose a template that offers them"])
}

# METADATA
# title: Capability requested from a template without modules
# custom:
#   id: SG-CAP-003
deny contains lib.reason("SG-CAP-003", message, "drop 'capabilities', or choose a template with capability modules") if {
	object.get(input, ["template", "exists"], false) == true
	count(lib.items(input, ["template", "capability_modules"])) == 0
	count(_requested) > 0
	message := lib.msg(["template '", lib.str(input, ["template", "name"]), "' has no capability modules, so capabilities ", lib.listing(_requested), " cannot be granted"])
}

# METADATA
# title: Provider not allowed
# custom:
#   id: SG-CAP-004
deny contains lib.reason("SG-CAP-004", message, "omit 'provider' to use the tenant default, or pick an allowed provider") if {
	provider := lib.str(input, ["effective", "provider"])
	allowed := {p | some p in data.spawngate.capabilities.allowed_providers}
	not provider in allowed
	message := lib.msg(["model provider '", provider, "' is not allowed (allowed: ", lib.listing(allowed), ")"])
}
