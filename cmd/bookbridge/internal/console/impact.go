package console

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
)

// maxRulesFormBytes bounds a form that carries a rule file: the file
// (server.MaxRulesBytes) base64-encoded or form-escaped, and the rest.
const maxRulesFormBytes = 3*server.MaxRulesBytes + maxFormBytes

// putInUse says how to put uploaded rules in use, for a bulk reload.
const putInUse = "put these rules in use first: BOOKBRIDGE_RULES and SIGHUP"

// registerImpact adds the impact pages (admin) and the reload of one
// record with the rules in use (operator).
func (c *Console) registerImpact(s *server.Server) {
	s.Handle("GET /admin/impact", c.page(auth.RoleAdmin, c.impactForm))
	s.Handle("POST /admin/impact", c.rulesForm(auth.RoleAdmin, c.impact))
	s.Handle("POST /admin/impact/record", c.rulesForm(auth.RoleAdmin, c.impactRecord))
	s.Handle("POST /admin/impact/reload", c.rulesForm(auth.RoleAdmin, c.impactReload))
	s.Handle("POST /admin/impact/reload/confirm", c.rulesForm(auth.RoleAdmin, c.impactReloadConfirm))
	s.Handle("POST /records/{id}/reload", c.page(auth.RoleOperator, c.reloadPreview))
	s.Handle("POST /records/{id}/reload/confirm", c.page(auth.RoleOperator, c.reloadConfirm))
}

// rulesForm is page for forms that carry a rule file, larger than other
// forms and possibly multipart (a file upload). Once the request is
// same-origin and its session allows need, the form is read here with the
// larger bound; page then checks everything again, the CSRF token too.
func (c *Console) rulesForm(need auth.Role, h func(http.ResponseWriter, *http.Request, *user)) http.Handler {
	checked := c.page(need, h)
	return c.secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.origins.Check(r) == nil {
			if u, err := c.currentUser(r); err == nil && u.Role.Allows(need) {
				r.Body = http.MaxBytesReader(w, r.Body, maxRulesFormBytes)
				mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
				var err error
				if mt == "multipart/form-data" {
					err = r.ParseMultipartForm(maxRulesFormBytes)
				} else {
					err = r.ParseForm()
				}
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					c.fail(w, r, u, http.StatusRequestEntityTooLarge, "The rule file is too large: at most "+strconv.Itoa(server.MaxRulesBytes>>20)+" MiB.")
					return
				}
				if err != nil {
					c.formFailed(w, r, u, err)
					return
				}
			}
		}
		checked.ServeHTTP(w, r)
	}))
}

// impactView is the data of the impact page: the form, and after an
// upload the problems of the file or its report.
type impactView struct {
	Name     string
	Text     string
	AtNow    bool
	Problems []string
	Error    string
	// Rules carries the uploaded file, base64, to the drill-down and the
	// reload (the console keeps nothing between requests).
	Rules  string
	Report *bookbridge.ImpactReport
	// SameRules: the file is the rules in use, so the report compares
	// with each record's last load.
	SameRules bool
	InUse     bookbridge.RulesInfo
	// Reload counts the records a reload would change.
	Reload int
}

func (c *Console) impactForm(w http.ResponseWriter, r *http.Request, u *user) {
	c.render(w, r, u, http.StatusOK, "impact", "impact", &impactView{InUse: c.inUse()})
}

func (c *Console) inUse() bookbridge.RulesInfo {
	return bookbridge.RulesInfoOf(c.app.Flow.Rules())
}

// uploaded is a rule file from a form: an uploaded file, the textarea, or
// the base64 copy the report's forms carry.
type uploaded struct {
	name, text, b64 string
	atNow           bool
}

func readUpload(r *http.Request) (uploaded, error) {
	up := uploaded{name: strings.TrimSpace(r.FormValue("name")), atNow: r.FormValue("now") != ""}
	var data []byte
	switch {
	case r.FormValue("rules") != "":
		b, err := base64.StdEncoding.DecodeString(r.FormValue("rules"))
		if err != nil {
			return up, errors.New("the form's copy of the rule file is damaged: upload the file again")
		}
		data = b
	default:
		if r.MultipartForm != nil {
			if f, hdr, err := r.FormFile("file"); err == nil {
				defer f.Close()
				b, err := io.ReadAll(io.LimitReader(f, server.MaxRulesBytes+1))
				if err != nil {
					return up, err
				}
				if len(b) > 0 {
					data = b
					if up.name == "" {
						up.name = hdr.Filename
					}
				}
			}
		}
		if data == nil {
			up.text = r.FormValue("text")
			data = []byte(strings.ReplaceAll(up.text, "\r\n", "\n"))
		}
	}
	if len(data) > server.MaxRulesBytes {
		return up, errors.New("the rule file is larger than " + strconv.Itoa(server.MaxRulesBytes>>20) + " MiB")
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return up, errors.New("choose a rule file or paste one")
	}
	if up.name == "" {
		up.name = "uploaded.yaml"
	}
	up.b64 = base64.StdEncoding.EncodeToString(data)
	return up, nil
}

// compileUpload compiles the form's rule file; on a problem it renders
// the form again and reports false.
func (c *Console) compileUpload(w http.ResponseWriter, r *http.Request, u *user) (*mapping.Rules, uploaded, bool) {
	up, err := readUpload(r)
	v := &impactView{Name: up.name, Text: up.text, AtNow: up.atNow, InUse: c.inUse()}
	if err != nil {
		v.Error = err.Error()
		c.render(w, r, u, http.StatusBadRequest, "impact", "impact", v)
		return nil, up, false
	}
	data, _ := base64.StdEncoding.DecodeString(up.b64)
	rules, err := app.CompileRules(c.app.Cfg, up.name, data)
	var ce *mapping.CompileError
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			v.Problems = append(v.Problems, p.String())
		}
		if v.Text == "" {
			v.Text = string(data)
		}
		c.render(w, r, u, http.StatusUnprocessableEntity, "impact", "impact", v)
		return nil, up, false
	}
	if err != nil {
		v.Error = err.Error()
		c.render(w, r, u, http.StatusUnprocessableEntity, "impact", "impact", v)
		return nil, up, false
	}
	return rules, up, true
}

// impactOf makes the report of rules: against the rules in use, or, when
// rules are in use already, against each record's last load.
func (c *Console) impactOf(r *http.Request, rules *mapping.Rules, atNow bool, ids ...int64) (*bookbridge.ImpactReport, bool, error) {
	same := c.app.Flow.CheckRulesInUse(bookbridge.RulesInfoOf(rules)) == nil
	opts := bookbridge.ImpactOptions{AtNow: atNow, AgainstLastLoad: same, Records: ids}
	if len(ids) > 0 {
		opts.States = staging.States()
	}
	rep, err := c.app.Flow.Impact(r.Context(), rules, opts)
	return rep, same, err
}

// impact shows the impact of an uploaded rule file on every loaded record.
func (c *Console) impact(w http.ResponseWriter, r *http.Request, u *user) {
	rules, up, ok := c.compileUpload(w, r, u)
	if !ok {
		return
	}
	rep, same, err := c.impactOf(r, rules, up.atNow)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console impact of a rule file", "user", u.Name, "rules", up.name, "hash", rules.Hash(),
		"checked", rep.Checked, "changed", rep.Changed, "failed", rep.Failed)
	c.render(w, r, u, http.StatusOK, "impact", "impact", &impactView{Name: up.name, AtNow: up.atNow, Rules: up.b64,
		Report: rep, SameRules: same, InUse: c.inUse(), Reload: len(rep.ReloadIDs())})
}

// impactRecordView is the drill-down of one record of a report.
type impactRecordView struct {
	Name      string
	AtNow     bool
	Rules     string
	SameRules bool
	Report    *bookbridge.ImpactReport
	Rec       *bookbridge.RecordImpact
}

// impactRecord shows what the rule file changes in one record's plan.
func (c *Console) impactRecord(w http.ResponseWriter, r *http.Request, u *user) {
	id, err := strconv.ParseInt(r.PostForm.Get("record"), 10, 64)
	if err != nil {
		c.fail(w, r, u, http.StatusBadRequest, "Choose a record of the report.")
		return
	}
	rules, up, ok := c.compileUpload(w, r, u)
	if !ok {
		return
	}
	rep, same, err := c.impactOf(r, rules, up.atNow, id)
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	v := &impactRecordView{Name: up.name, AtNow: up.atNow, Rules: up.b64, SameRules: same, Report: rep}
	if len(rep.Records) > 0 {
		v.Rec = &rep.Records[0]
	} else if rep.Checked == 0 {
		c.fail(w, r, u, http.StatusNotFound, "There is no record "+strconv.FormatInt(id, 10)+" to plan.")
		return
	}
	c.render(w, r, u, http.StatusOK, "impact_record", "impact", v)
}

// impactReloadView is the bulk reload's confirmation, its refusal, or
// what it did.
type impactReloadView struct {
	Name    string
	Rules   string
	AtNow   bool
	InUse   bookbridge.RulesInfo
	New     bookbridge.RulesInfo
	Refused string
	// Note asks to confirm again.
	Note   string
	Report *bookbridge.ImpactReport
	Count  int
	// Changed are the records the reload changes (confirmation).
	Changed []bookbridge.RecordImpact
	// Done is what the reload did.
	Done []bookbridge.ReloadOutcome
}

// reloadReport checks that the uploaded rules are in use and makes the
// report the bulk reload works from; it has answered when ok is false.
func (c *Console) reloadReport(w http.ResponseWriter, r *http.Request, u *user) (*impactReloadView, bool) {
	rules, up, ok := c.compileUpload(w, r, u)
	if !ok {
		return nil, false
	}
	v := &impactReloadView{Name: up.name, Rules: up.b64, AtNow: up.atNow, InUse: c.inUse(),
		New: bookbridge.RulesInfoOf(rules)}
	if v.InUse.Hash != v.New.Hash {
		v.Refused = "The rules in use (" + v.InUse.Name + ", sha256 " + v.InUse.Hash + ") are not the uploaded ones, and a reload writes with the rules in use: " + putInUse + ", then come back."
		c.render(w, r, u, http.StatusConflict, "impact_reload", "impact", v)
		return nil, false
	}
	rep, _, err := c.impactOf(r, rules, false)
	if err != nil {
		c.internal(w, r, u, err)
		return nil, false
	}
	v.Report = rep
	for _, ri := range rep.Records {
		if ri.Error == "" && ri.Changed() {
			v.Changed = append(v.Changed, ri)
		}
	}
	v.Count = len(v.Changed)
	return v, true
}

// impactReload is the confirmation of the bulk reload: it names the count.
func (c *Console) impactReload(w http.ResponseWriter, r *http.Request, u *user) {
	v, ok := c.reloadReport(w, r, u)
	if !ok {
		return
	}
	c.render(w, r, u, http.StatusOK, "impact_reload", "impact", v)
}

// impactReloadConfirm reloads the records the confirmation counted. When
// the count changed since (a record was loaded or edited), it asks again.
func (c *Console) impactReloadConfirm(w http.ResponseWriter, r *http.Request, u *user) {
	v, ok := c.reloadReport(w, r, u)
	if !ok {
		return
	}
	if r.PostForm.Get("count") != strconv.Itoa(v.Count) {
		v.Note = "The number of records to reload changed since you confirmed (a record was loaded or changed): check the count again."
		c.render(w, r, u, http.StatusConflict, "impact_reload", "impact", v)
		return
	}
	done, err := c.app.Flow.ReloadImpact(r.Context(), v.Report, "user:"+u.Name, false)
	var mismatch *bookbridge.RulesMismatchError
	if errors.As(err, &mismatch) {
		v.Refused = err.Error() + " (" + putInUse + ")"
		c.render(w, r, u, http.StatusConflict, "impact_reload", "impact", v)
		return
	}
	if err != nil {
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console bulk reload", "user", u.Name, "count", len(done), "rules_hash", v.InUse.Hash)
	v.Done = done
	c.render(w, r, u, http.StatusAccepted, "impact_reload", "impact", v)
}

// reloadView is the dry run of the reload of one record.
type reloadView struct {
	Rec     *staging.Record
	Target  string
	Preview *bookbridge.ReloadPreview
	Steps   []diffStep
	Error   string
}

// reloadPreview is the "Reload with current rules" button: the reload's
// dry run against the live target, and the rows no longer written.
func (c *Console) reloadPreview(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	v := &reloadView{Rec: rec, Target: c.app.Cfg.Target}
	if rec.State != staging.StateLoaded {
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" is "+stateLabel(rec.State)+", not loaded: load it with “SFDC Data” instead.")
		return
	}
	p, err := c.app.Flow.PreviewReload(r.Context(), rec)
	if err != nil {
		server.Logger(r.Context()).Warn("console reload dry run failed", "record", rec.Number, "err", err)
		v.Error = err.Error()
		c.render(w, r, u, http.StatusBadGateway, "reload", "records", v)
		return
	}
	v.Preview = p
	for _, s := range p.Diff.Steps {
		ds := diffStep{StepDiff: s}
		if s.Action == loader.ActionUpdate || s.Action == loader.ActionUnchanged {
			ds.Link = c.targetLink(s.Table, s.TargetID)
		}
		v.Steps = append(v.Steps, ds)
	}
	c.render(w, r, u, http.StatusOK, "reload", "records", v)
}

// reloadConfirm enqueues the reload the preview showed, if the record did
// not change since, and shows its job.
func (c *Console) reloadConfirm(w http.ResponseWriter, r *http.Request, u *user) {
	rec, ok := c.findRecord(w, r, u)
	if !ok {
		return
	}
	seen, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if err != nil || seen != rec.Version {
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" changed after your preview. Nothing was reloaded: look at the record and preview again.")
		return
	}
	if h := r.PostForm.Get("rules_hash"); h != "" && c.app.Flow.CheckRulesInUse(bookbridge.RulesInfo{Hash: h}) != nil {
		c.fail(w, r, u, http.StatusConflict, "The rules in use changed after your preview (a SIGHUP). Nothing was reloaded: preview the reload again.")
		return
	}
	jobID, err := c.app.Flow.EnqueueReload(r.Context(), rec.ID, "user:"+u.Name, staging.IfVersion(seen), staging.Via("console"))
	switch {
	case errors.Is(err, staging.ErrConflict):
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" changed after your preview. Nothing was reloaded: look at the record and preview again.")
		return
	case bookbridge.KindOf(err) == bookbridge.KindNotLoadable:
		c.fail(w, r, u, http.StatusConflict, "Record "+rec.Number+" cannot be reloaded now: "+err.Error())
		return
	case bookbridge.KindOf(err) == bookbridge.KindPlanFailed:
		c.fail(w, r, u, http.StatusUnprocessableEntity, "The rules in use cannot plan record "+rec.Number+": "+err.Error())
		return
	case err != nil:
		c.internal(w, r, u, err)
		return
	}
	server.Logger(r.Context()).Info("console reload enqueued", "record", rec.Number, "job_id", jobID, "user", u.Name)
	http.Redirect(w, r, "/jobs/"+strconv.FormatInt(jobID, 10), http.StatusSeeOther)
}
