# METADATA
# title: Tenant isolation
# description: >
#   Agents create agents only inside their own tenant (seed 000). The tenant is
#   the creator's, from its credential; anything in the request that points at
#   another tenant (a tenant field, a next_agent "tenant/name", a template
#   reserved for other tenants) is a cross-tenant attempt and is denied.
# custom:
#   severity: critical
package spawngate.tenancy

import rego.v1

import data.spawngate.lib

_own := lib.str(input, ["creator", "tenant"])

# METADATA
# title: Request names another tenant
# custom:
#   id: SG-TENANT-001
deny contains lib.reason("SG-TENANT-001", message, fix) if {
	claimed := object.get(input, ["request", "tenant"], null)
	claimed != null
	claimed != _own
	message := lib.msg(["cross-tenant creation refused: the request names tenant '", lib.str(input, ["request", "tenant"]), "' but the caller belongs to '", _own, "'"])
	fix := lib.msg(["omit 'tenant' or set it to '", _own, "'"])
}

# METADATA
# title: next_agent points into another tenant
# custom:
#   id: SG-TENANT-002
deny contains lib.reason("SG-TENANT-002", message, "name an agent of your own tenant as next_agent") if {
	ref := lib.str(input, ["request", "next_agent"])
	contains(ref, "/")
	target := split(ref, "/")[0]
	target != _own
	message := lib.msg(["next_agent '", ref, "' is in tenant '", target, "'; agents may only address agents in their own tenant '", _own, "'"])
}

# METADATA
# title: Template reserved for other tenants
# custom:
#   id: SG-TENANT-003
deny contains lib.reason("SG-TENANT-003", message, "use a template shared with your tenant") if {
	allowed := lib.items(input, ["template", "tenants"])
	count(allowed) > 0
	not _own in allowed
	message := lib.msg(["template '", lib.str(input, ["template", "name"]), "' belongs to tenant(s) ", lib.listing(allowed), ", not to '", _own, "'"])
}

# METADATA
# title: Credential and tenant settings disagree
# custom:
#   id: SG-TENANT-004
deny contains lib.reason("SG-TENANT-004", message, "report this to the gateway operators") if {
	settings_for := lib.str(input, ["tenant", "id"])
	settings_for != _own
	message := lib.msg(["tenant settings are for '", settings_for, "' but the caller belongs to '", _own, "'"])
}
