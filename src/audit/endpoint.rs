//! The audit-log operation, for the calls made by hand rather than through
//! its generated builder (the export's streamed windows): the one place its
//! path and operation id are written, checked against the spec by a test in
//! `audit/mod.rs`.

use crate::transport::Endpoint;

/// `GET` of the audit logs, as the spec names it.
pub(crate) const AUDIT_LOGS: Endpoint = Endpoint {
    operation_id: "get_audit_logs",
    path: "/api/v1/audit_logs",
};
