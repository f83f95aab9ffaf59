//! Who may do what: one table, role → allowed actions, exactly as the contract's
//! (v2) table. Every route names its action; the role it is checked against is the
//! one stored in the organization's member map, read on every request.

use crate::domain::Role;
use crate::error::ApiError;

/// What a request wants to do in its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the organization (`GET /org/me`).
    ReadOrganization,
    /// List members.
    ListMembers,
    /// Create, list, read and delete items.
    UseItems,
    /// Change one's own email or password, log out.
    ChangeOwnAccount,
    /// Leave the organization.
    Leave,
    /// Invite someone with this role, or resend or revoke an invitation for it.
    Invite(Role),
    /// List invitations.
    ListInvitations,
    /// Change a member's role.
    ChangeRole {
        /// The member's role now.
        from: Role,
        /// The role asked for.
        to: Role,
    },
    /// Remove a member who has this role.
    Remove(Role),
    /// Rename the organization.
    Rename,
    /// Delete the organization.
    Delete,
    /// (v3) Change the organization's `metadata` and `external_id`.
    ChangeProfile,
    /// Read the audit log.
    ReadAudit,
    /// Read the organization's events (`GET /org/events`).
    ReadEvents,
    /// Register, change, rotate, test and delete webhook endpoints; read and retry
    /// their deliveries.
    ManageWebhooks,
    /// Make, list and revoke API keys.
    ManageKeys,
}

/// Whether `role` may do `action`.
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    let admin = role >= Role::Admin;
    let owner = role == Role::Owner;
    match action {
        ReadOrganization | ListMembers | UseItems | ChangeOwnAccount | Leave => true,
        Invite(Role::Owner) | Remove(Role::Owner) => owner,
        Invite(_) | Remove(_) | ListInvitations | ReadAudit | ReadEvents | ManageWebhooks
        | ManageKeys | ChangeProfile => admin,
        ChangeRole { from, to } if from == Role::Owner || to == Role::Owner => owner,
        ChangeRole { .. } => admin,
        Rename | Delete => owner,
    }
}

/// Whether an API key of `role` may do `action`: read the organization, its members and
/// items, use items; an admin key also the audit log, the events and the invitations
/// (for members and admins). Never a change of the organization, of roles, of keys or
/// webhooks, nor anything of a person's own account.
pub fn allowed_for_key(role: Role, action: Action) -> bool {
    use Action::*;
    let admin = role >= Role::Admin;
    match action {
        ReadOrganization | ListMembers | UseItems => true,
        ReadAudit | ReadEvents | ListInvitations => admin,
        Invite(invited) => admin && invited != Role::Owner,
        ChangeOwnAccount
        | Leave
        | ChangeRole { .. }
        | Remove(_)
        | Rename
        | Delete
        | ChangeProfile
        | ManageWebhooks
        | ManageKeys => false,
    }
}

/// `Ok` when an API key of `role` may do `action`, else the 403 that says so.
pub fn require_for_key(role: Role, action: Action) -> Result<(), ApiError> {
    if allowed_for_key(role, action) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "An API key may not {}",
            describe(action)
        )))
    }
}

/// What an action is, for a 403 that says what was refused.
fn describe(action: Action) -> String {
    use Action::*;
    match action {
        ReadOrganization => "read the organization".into(),
        ListMembers => "list members".into(),
        UseItems => "use items".into(),
        ChangeOwnAccount => "change its own account".into(),
        Leave => "leave".into(),
        Invite(role) => format!("invite or manage invitations as {role}"),
        ListInvitations => "list invitations".into(),
        ChangeRole { from, to } => format!("change a role from {from} to {to}"),
        Remove(role) => format!("remove a member who is {role}"),
        Rename => "rename the organization".into(),
        Delete => "delete the organization".into(),
        ChangeProfile => "change the organization's metadata or external id".into(),
        ReadAudit => "read the audit log".into(),
        ReadEvents => "read the events".into(),
        ManageWebhooks => "manage webhooks".into(),
        ManageKeys => "manage API keys".into(),
    }
}

/// `Ok` when `role` may do `action`, else the 403 that says what was refused (and
/// names nothing of another tenant).
pub fn require(role: Role, action: Action) -> Result<(), ApiError> {
    if allowed(role, action) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "A member with the role {role} may not {}",
            describe(action)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    /// The contract's table, row by row: (action, member, admin, owner).
    #[test]
    fn the_table_of_the_contract() {
        let rows: &[(Action, [bool; 3])] = &[
            (Action::ReadOrganization, [true, true, true]),
            (Action::ListMembers, [true, true, true]),
            (Action::UseItems, [true, true, true]),
            (Action::ChangeOwnAccount, [true, true, true]),
            (Action::Leave, [true, true, true]),
            (Action::Invite(Member), [false, true, true]),
            (Action::Invite(Admin), [false, true, true]),
            (Action::Invite(Owner), [false, false, true]),
            (Action::ListInvitations, [false, true, true]),
            (
                Action::ChangeRole {
                    from: Member,
                    to: Admin,
                },
                [false, true, true],
            ),
            (
                Action::ChangeRole {
                    from: Admin,
                    to: Member,
                },
                [false, true, true],
            ),
            (
                Action::ChangeRole {
                    from: Admin,
                    to: Owner,
                },
                [false, false, true],
            ),
            (
                Action::ChangeRole {
                    from: Owner,
                    to: Admin,
                },
                [false, false, true],
            ),
            (Action::Remove(Member), [false, true, true]),
            (Action::Remove(Admin), [false, true, true]),
            (Action::Remove(Owner), [false, false, true]),
            (Action::Rename, [false, false, true]),
            (Action::Delete, [false, false, true]),
            (Action::ChangeProfile, [false, true, true]),
            (Action::ReadAudit, [false, true, true]),
            (Action::ReadEvents, [false, true, true]),
            (Action::ManageWebhooks, [false, true, true]),
            (Action::ManageKeys, [false, true, true]),
        ];
        for (action, expected) in rows {
            for (role, want) in [Member, Admin, Owner].into_iter().zip(expected) {
                assert_eq!(allowed(role, *action), *want, "{role} {action:?}");
            }
        }
        let refused = require(Member, Action::Delete).unwrap_err();
        assert_eq!(refused.status(), 403);
        assert_eq!(
            refused.detail(),
            "A member with the role member may not delete the organization"
        );
    }
}
