package auth

import "fmt"

// Role is what a key or user may do.
type Role string

// The roles, lowest first.
const (
	RoleIntake   Role = "intake"
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleIntake, RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r may do what need requires. intake and viewer
// rank alike but do not include each other: an intake key cannot read
// records, a viewer cannot post deals.
func (r Role) Allows(need Role) bool {
	if r.rank() == 0 || need.rank() == 0 {
		return false
	}
	if need.rank() == 1 && r.rank() == 1 {
		return r == need
	}
	return r.rank() >= need.rank()
}

// ParseKeyRole checks an API key role.
func ParseKeyRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleIntake, RoleOperator, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("unknown API key role %q: use intake, operator or admin", s)
}

// ParseUserRole checks a user role.
func ParseUserRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleOperator, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("unknown user role %q: use viewer, operator or admin", s)
}
