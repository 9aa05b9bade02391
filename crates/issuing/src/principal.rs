//! Who is calling, and what slice of the platform they may see.

use crate::error::{IssuingError, Result};
use domain::{GroupId, OrgId, Role, SessionId, UserId};
use store::Scope;

/// An authenticated caller, loaded from the database on every request (not trusted from
/// the token alone), so a deactivated user or revoked session stops at once.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
    pub org_id: Option<OrgId>,
    pub group_id: Option<GroupId>,
    /// Path of the admin's group: the subtree they manage.
    pub group_path: Option<String>,
    pub session_id: SessionId,
}

impl Principal {
    /// The caller's org, for fleet roles. Staff have none.
    pub fn org(&self) -> Result<OrgId> {
        self.org_id.ok_or(IssuingError::Forbidden("this action is for fleet users"))
    }

    /// The org the caller acts on: their own for fleet users; operators name one.
    pub fn fleet_scope(&self) -> Result<Scope> {
        match self.role {
            Role::Owner => Ok(Scope { group_path: None }),
            Role::Admin => match &self.group_path {
                Some(path) => Ok(Scope { group_path: Some(path.clone()) }),
                None => Err(IssuingError::Forbidden("admin has no group")),
            },
            _ => Err(IssuingError::Forbidden("this action is for fleet owners and admins")),
        }
    }

    /// Whether an object of `org` placed in the group with `path` (`None`: org level) is
    /// inside what this owner or admin manages.
    pub fn manages(&self, org: OrgId, path: Option<&str>) -> bool {
        if self.org_id != Some(org) {
            return false;
        }
        match self.role {
            Role::Owner => true,
            Role::Admin => matches!(
                (self.group_path.as_deref(), path),
                (Some(scope), Some(path)) if path.starts_with(scope)
            ),
            _ => false,
        }
    }

    pub fn require(&self, allowed: &[Role], what: &'static str) -> Result<()> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(IssuingError::Forbidden(what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(path: &str) -> Principal {
        Principal {
            user_id: UserId::new(),
            role: Role::Admin,
            org_id: Some(OrgId(uuid::Uuid::nil())),
            group_id: None,
            group_path: Some(path.into()),
            session_id: SessionId::new(),
        }
    }

    #[test]
    fn admin_manages_only_own_subtree_of_own_org() {
        let a = admin("/a/");
        let org = OrgId(uuid::Uuid::nil());
        assert!(a.manages(org, Some("/a/")));
        assert!(a.manages(org, Some("/a/b/")));
        assert!(!a.manages(org, Some("/b/")));
        assert!(!a.manages(org, None), "org-level objects are the owner's");
        assert!(!a.manages(OrgId::new(), Some("/a/")), "never another org");
    }
}
