package console

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strings"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
)

type usersView struct {
	Users []auth.User
	Roles []auth.Role
	Error string
	// ConfirmRemove names the user whose removal waits for confirmation.
	ConfirmRemove string
	// NewName and NewPassword show a generated password once.
	NewName     string
	NewPassword string
}

var userRoles = []auth.Role{auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin}

func (c *Console) showUsers(w http.ResponseWriter, r *http.Request, u *user, status int, v usersView) {
	users, err := c.app.Auth.ListUsers(r.Context())
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	v.Users, v.Roles = users, userRoles
	c.render(w, r, u, status, "users", "users", v)
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, u *user) {
	c.showUsers(w, r, u, http.StatusOK, usersView{})
}

// GeneratePassword returns a random password of 26 characters (130 bits),
// for a user added without one.
func GeneratePassword() string { return rand.Text() }

// authStatus maps the auth store's conditions onto answers.
func authStatus(err error) int {
	switch {
	case errors.Is(err, auth.ErrExists):
		return http.StatusConflict
	case errors.Is(err, auth.ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

func (c *Console) addUser(w http.ResponseWriter, r *http.Request, u *user) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	role, err := auth.ParseUserRole(r.PostForm.Get("role"))
	if err != nil {
		c.showUsers(w, r, u, http.StatusBadRequest, usersView{Error: err.Error()})
		return
	}
	password, generated := r.PostForm.Get("password"), false
	if password == "" {
		password, generated = GeneratePassword(), true
	}
	if err := c.app.Auth.AddUser(r.Context(), name, password, role); err != nil {
		if errors.Is(err, auth.ErrExists) || errors.Is(err, auth.ErrWeakPassword) || errors.Is(err, auth.ErrBadName) {
			c.showUsers(w, r, u, authStatus(err), usersView{Error: strings.TrimPrefix(err.Error(), "auth: ")})
			return
		}
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console user added", "user", name, "role", role, "by", u.Name)
	if generated {
		c.showUsers(w, r, u, http.StatusOK, usersView{NewName: name, NewPassword: password})
		return
	}
	c.setFlash(w, r, "User "+name+" ("+string(role)+") added.")
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (c *Console) setUser(w http.ResponseWriter, r *http.Request, u *user) {
	name := r.PostForm.Get("name")
	role, err := auth.ParseUserRole(r.PostForm.Get("role"))
	if err != nil {
		c.showUsers(w, r, u, http.StatusBadRequest, usersView{Error: err.Error()})
		return
	}
	if name == u.Name && role != u.Role {
		c.showUsers(w, r, u, http.StatusBadRequest, usersView{Error: "You cannot change your own role; ask another admin (or use bookbridge user set)."})
		return
	}
	password := r.PostForm.Get("password")
	if err := c.app.Auth.SetUser(r.Context(), name, password, role); err != nil {
		if errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrWeakPassword) {
			c.showUsers(w, r, u, authStatus(err), usersView{Error: strings.TrimPrefix(err.Error(), "auth: ")})
			return
		}
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console user changed", "user", name, "role", role, "password_changed", password != "", "by", u.Name)
	msg := "User " + name + " is now " + string(role) + "."
	if password != "" {
		msg += " The password was changed."
	}
	c.setFlash(w, r, msg)
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// Changes of a user's access, from the buttons of the users page.
const (
	accessDisable = "disable"
	accessEnable  = "enable"
	accessRemove  = "remove"
)

func (c *Console) disableUser(w http.ResponseWriter, r *http.Request, u *user) {
	c.changeAccess(w, r, u, accessDisable)
}

func (c *Console) enableUser(w http.ResponseWriter, r *http.Request, u *user) {
	c.changeAccess(w, r, u, accessEnable)
}

// removeUser first shows the users page asking for confirmation (a page,
// so it works without JavaScript); the confirmation's form sends
// confirm=yes.
func (c *Console) removeUser(w http.ResponseWriter, r *http.Request, u *user) {
	name := r.PostForm.Get("name")
	if r.PostForm.Get("confirm") != "yes" && name != u.Name {
		c.showUsers(w, r, u, http.StatusOK, usersView{ConfirmRemove: name})
		return
	}
	c.changeAccess(w, r, u, accessRemove)
}

// changeAccess disables, enables or removes the user of the form. An admin
// cannot lock themselves out: another admin (or the command line) does it.
func (c *Console) changeAccess(w http.ResponseWriter, r *http.Request, u *user, action string) {
	name := r.PostForm.Get("name")
	if name == u.Name && action != accessEnable {
		c.showUsers(w, r, u, http.StatusBadRequest, usersView{Error: "You cannot " + action + " yourself; ask another admin (or use bookbridge user " + action + ")."})
		return
	}
	change, done := c.app.Auth.EnableUser, " is enabled: they can log in again with their password."
	switch action {
	case accessDisable:
		change, done = c.app.Auth.DisableUser, " is disabled: their sessions have ended and they cannot log in."
	case accessRemove:
		change, done = c.app.Auth.RemoveUser, " is removed: their sessions have ended."
	}
	if err := change(r.Context(), name); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			c.showUsers(w, r, u, authStatus(err), usersView{Error: strings.TrimPrefix(err.Error(), "auth: ")})
			return
		}
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console user "+action+"d", "user", name, "by", u.Name)
	c.setFlash(w, r, "User "+name+done)
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

type keysView struct {
	Keys  []auth.APIKey
	Roles []auth.Role
	Error string
	// NewName and NewKey show a created key once.
	NewName string
	NewKey  string
}

var keyRoles = []auth.Role{auth.RoleIntake, auth.RoleOperator, auth.RoleAdmin}

func (c *Console) showKeys(w http.ResponseWriter, r *http.Request, u *user, status int, v keysView) {
	keys, err := c.app.Auth.ListKeys(r.Context())
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	v.Keys, v.Roles = keys, keyRoles
	c.render(w, r, u, status, "keys", "keys", v)
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request, u *user) {
	c.showKeys(w, r, u, http.StatusOK, keysView{})
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, u *user) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	role, err := auth.ParseKeyRole(r.PostForm.Get("role"))
	if err != nil {
		c.showKeys(w, r, u, http.StatusBadRequest, keysView{Error: err.Error()})
		return
	}
	if name == "" {
		c.showKeys(w, r, u, http.StatusBadRequest, keysView{Error: "A key needs a name that says who uses it, such as salesforce-prod."})
		return
	}
	key, err := c.app.Auth.CreateKey(r.Context(), name, role)
	if errors.Is(err, auth.ErrBadName) {
		c.showKeys(w, r, u, http.StatusBadRequest, keysView{Error: strings.TrimPrefix(err.Error(), "auth: ")})
		return
	}
	if errors.Is(err, auth.ErrExists) {
		c.showKeys(w, r, u, http.StatusConflict, keysView{Error: strings.TrimPrefix(err.Error(), "auth: ")})
		return
	}
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console API key created", "key", name, "role", role, "by", u.Name)
	c.showKeys(w, r, u, http.StatusOK, keysView{NewName: name, NewKey: key})
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, u *user) {
	name := r.PostForm.Get("name")
	err := c.app.Auth.RevokeKey(r.Context(), name)
	if errors.Is(err, auth.ErrNotFound) {
		c.showKeys(w, r, u, http.StatusNotFound, keysView{Error: strings.TrimPrefix(err.Error(), "auth: ")})
		return
	}
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console API key revoked", "key", name, "by", u.Name)
	c.setFlash(w, r, "API key "+name+" revoked. Callers using it are refused from now on.")
	http.Redirect(w, r, "/admin/keys", http.StatusSeeOther)
}
