//! What a MongoDB data directory holds that matters to the applications: users with their
//! passwords and roles, and the collections (document counts and indexes). Privileges follow
//! MongoDB's built-in roles.

use std::collections::BTreeMap;

/// A role granted to a user: `{role: "readWrite", db: "geo-db"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoleRef {
    /// The role's name.
    pub role: String,
    /// The database the role is defined in.
    pub db: String,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoUser {
    /// The password in clear (the simulation keeps no hashes).
    pub password: String,
    /// Roles, in grant order.
    pub roles: Vec<RoleRef>,
    /// The user's id (`<db>.<name>`) and a stable UUID.
    pub uuid: String,
}

/// A collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// Number of documents.
    pub docs: u64,
    /// Index names besides `_id_`.
    pub indexes: Vec<String>,
}

/// An action a command needs privilege for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// find, count, aggregate.
    Find,
    /// insert.
    Insert,
    /// update.
    Update,
    /// remove / delete.
    Remove,
    /// createIndex(es).
    CreateIndex,
    /// create / implicit collection creation.
    CreateCollection,
    /// drop a collection.
    DropCollection,
    /// list collections.
    ListCollections,
    /// createUser.
    CreateUser,
    /// dropUser.
    DropUser,
    /// grantRolesToUser.
    GrantRole,
    /// revokeRolesFromUser.
    RevokeRole,
    /// usersInfo.
    ViewUser,
    /// changePassword / updateUser pwd.
    ChangePassword,
    /// dropDatabase.
    DropDatabase,
    /// listDatabases (cluster-wide).
    ListDatabases,
}

const READ: &[Action] = &[Action::Find, Action::ListCollections];
const WRITE: &[Action] = &[
    Action::Insert,
    Action::Update,
    Action::Remove,
    Action::CreateIndex,
    Action::CreateCollection,
    Action::DropCollection,
];
const DB_ADMIN: &[Action] = &[
    Action::CreateIndex,
    Action::CreateCollection,
    Action::DropCollection,
    Action::ListCollections,
    Action::DropDatabase,
];
const USER_ADMIN: &[Action] = &[
    Action::CreateUser,
    Action::DropUser,
    Action::GrantRole,
    Action::RevokeRole,
    Action::ViewUser,
    Action::ChangePassword,
];

/// What a built-in role allows: (actions on its own database, whether on every database).
fn role_grants(role: &str, role_db: &str, action: Action, target_db: &str) -> bool {
    let own = role_db == target_db;
    let any = role_db == "admin";
    let in_list = |list: &[Action]| list.contains(&action);
    match role {
        "read" => own && in_list(READ),
        "readWrite" => own && (in_list(READ) || in_list(WRITE)),
        "dbAdmin" => own && in_list(DB_ADMIN),
        "userAdmin" => own && in_list(USER_ADMIN),
        "dbOwner" => {
            own && (in_list(READ) || in_list(WRITE) || in_list(DB_ADMIN) || in_list(USER_ADMIN))
        }
        "readAnyDatabase" => any && (in_list(READ) || action == Action::ListDatabases),
        "readWriteAnyDatabase" => {
            any && (in_list(READ) || in_list(WRITE) || action == Action::ListDatabases)
        }
        "userAdminAnyDatabase" => any && (in_list(USER_ADMIN) || action == Action::ListDatabases),
        "dbAdminAnyDatabase" => any && (in_list(DB_ADMIN) || action == Action::ListDatabases),
        "clusterAdmin" => any && matches!(action, Action::ListDatabases | Action::DropDatabase),
        "root" | "__system" => any,
        _ => false,
    }
}

/// Whether `role` is a built-in role of database `db` (`readWrite` exists everywhere,
/// `root` only in `admin`).
pub fn builtin_role(role: &str, db: &str) -> bool {
    match role {
        "read" | "readWrite" | "dbAdmin" | "userAdmin" | "dbOwner" => true,
        "readAnyDatabase"
        | "readWriteAnyDatabase"
        | "userAdminAnyDatabase"
        | "dbAdminAnyDatabase"
        | "clusterAdmin"
        | "clusterManager"
        | "clusterMonitor"
        | "hostManager"
        | "backup"
        | "restore"
        | "root"
        | "__system" => db == "admin",
        _ => false,
    }
}

/// Why authentication failed (the server's log says which; the client only sees
/// `Authentication failed.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// `UserNotFound: Could not find user "admin" for db "admin"`.
    UserNotFound,
    /// Wrong password.
    BadPassword,
}

/// One data directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MongoData {
    /// Users by (database, name).
    pub users: BTreeMap<(String, String), MongoUser>,
    /// Collections by database and name.
    pub dbs: BTreeMap<String, BTreeMap<String, Collection>>,
    /// Whether mongod has started on it once (`admin.system.version` exists).
    pub initialized: bool,
}

impl MongoData {
    /// Checks a user's credentials.
    pub fn authenticate(&self, db: &str, user: &str, password: &str) -> Result<(), AuthError> {
        match self.users.get(&(db.to_string(), user.to_string())) {
            None => Err(AuthError::UserNotFound),
            Some(u) if u.password != password => Err(AuthError::BadPassword),
            Some(_) => Ok(()),
        }
    }

    /// Whether there is any user (the localhost exception ends with the first one).
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether the authenticated `principal` (auth database, user) may do `action` on `db`.
    /// A principal whose user no longer exists has no privileges.
    pub fn allowed(&self, principal: Option<(&str, &str)>, action: Action, db: &str) -> bool {
        let Some((adb, name)) = principal else {
            return false;
        };
        let Some(user) = self.users.get(&(adb.to_string(), name.to_string())) else {
            return false;
        };
        user.roles
            .iter()
            .any(|r| role_grants(&r.role, &r.db, action, db))
    }

    /// The collection, created when missing.
    pub fn collection_mut(&mut self, db: &str, coll: &str) -> &mut Collection {
        self.dbs
            .entry(db.to_string())
            .or_default()
            .entry(coll.to_string())
            .or_default()
    }

    /// The collection, if it exists.
    pub fn collection(&self, db: &str, coll: &str) -> Option<&Collection> {
        self.dbs.get(db).and_then(|d| d.get(coll))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> MongoData {
        let mut d = MongoData::default();
        d.users.insert(
            ("admin".into(), "admin".into()),
            MongoUser {
                password: "admin".into(),
                roles: vec![
                    RoleRef {
                        role: "userAdminAnyDatabase".into(),
                        db: "admin".into(),
                    },
                    RoleRef {
                        role: "readWrite".into(),
                        db: "geo-db".into(),
                    },
                ],
                uuid: "u".into(),
            },
        );
        d
    }

    #[test]
    fn roles_grant_what_mongodb_grants() {
        let d = data();
        let p = Some(("admin", "admin"));
        assert!(d.allowed(p, Action::Find, "geo-db"));
        assert!(d.allowed(p, Action::Insert, "geo-db"));
        assert!(
            !d.allowed(p, Action::Find, "rate-db"),
            "readWrite is per database"
        );
        assert!(
            d.allowed(p, Action::GrantRole, "rate-db"),
            "userAdminAnyDatabase"
        );
        assert!(!d.allowed(None, Action::Find, "geo-db"));
        assert!(!d.allowed(Some(("admin", "ghost")), Action::Find, "geo-db"));
    }

    #[test]
    fn authentication() {
        let d = data();
        assert_eq!(d.authenticate("admin", "admin", "admin"), Ok(()));
        assert_eq!(
            d.authenticate("admin", "admin", "x"),
            Err(AuthError::BadPassword)
        );
        assert_eq!(
            d.authenticate("geo-db", "admin", "admin"),
            Err(AuthError::UserNotFound)
        );
        assert!(builtin_role("readWrite", "geo-db"));
        assert!(!builtin_role("root", "geo-db"));
        assert!(!builtin_role("superuser", "admin"));
    }
}
