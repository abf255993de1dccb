package oidctest

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	loginPath        = "/login"
	cancelPath       = "/login/cancel"
	loggedOutPath    = "/logged-out"
	authRequestParam = "authRequestID"
	// sessionCookie holds the sid of the browser's provider session, so a
	// second authorize in the same browser signs in without the form, as
	// real providers do, until end_session ends the session.
	sessionCookie = "oidctest_session"
)

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oidctest: sign in</title></head>
<body>
<h1>Sign in to oidctest</h1>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="` + authRequestParam + `" value="{{.ID}}">
<label>Username <input name="username" id="username" autocomplete="username" value="{{.Username}}"></label>
<label>Password <input name="password" type="password" id="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
<p><a id="cancel" href="{{.Cancel}}">Cancel</a></p>
</body></html>
`))

type loginData struct {
	ID, Action, Cancel, Username, Error string
}

// serveLogin is the login step op redirects authorize requests to. With
// AutoLogin set it completes the request at once; else, in a browser with
// a live provider session, it completes it as that session's subject; else
// it shows the form (GET) or checks it (POST).
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.Form.Get(authRequestParam)
	authReq, err := p.st.AuthRequestByID(r.Context(), id)
	if err != nil {
		http.Error(w, "unknown or expired authorization request", http.StatusBadRequest)
		return
	}
	p.st.mu.Lock()
	auto := p.st.autoLogin
	p.st.mu.Unlock()
	if auto != "" {
		p.finishLogin(w, r, authReq, auto, currentSession, false)
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if subject, ok := p.st.sessionSubject(c.Value); ok {
			p.finishLogin(w, r, authReq, subject, c.Value, false)
			return
		}
	}
	data := loginData{
		ID:     id,
		Action: loginPath,
		Cancel: cancelPath + "?" + url.Values{authRequestParam: {id}}.Encode(),
	}
	if r.Method != http.MethodPost {
		p.renderLogin(w, http.StatusOK, data)
		return
	}
	data.Username = r.PostForm.Get("username")
	subject, ok := p.st.checkPassword(data.Username, r.PostForm.Get("password"))
	if !ok {
		data.Error = "Invalid username or password."
		p.renderLogin(w, http.StatusOK, data)
		return
	}
	p.finishLogin(w, r, authReq, subject, newSession, true)
}

func (p *Provider) renderLogin(w http.ResponseWriter, status int, data loginData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, data)
}

// finishLogin completes the auth request as subject in the provider
// session sid (see completeLogin) and sends the browser to op's callback,
// which redirects to the client with the code; a disabled or unknown
// subject gets error=access_denied at the client. setCookie gives the
// browser the session's cookie.
func (p *Provider) finishLogin(w http.ResponseWriter, r *http.Request, authReq op.AuthRequest, subject, sid string, setCookie bool) {
	sid, err := p.st.completeLogin(authReq.GetID(), subject, sid)
	switch {
	case errors.Is(err, errDisabled):
		op.AuthRequestError(w, r, authReq, oidc.ErrAccessDenied().WithDescription("account disabled"), p.op)
		return
	case errors.Is(err, errUnknownUser):
		op.AuthRequestError(w, r, authReq, oidc.ErrAccessDenied().WithDescription("unknown user"), p.op)
		return
	case err != nil:
		http.Error(w, "unknown or expired authorization request", http.StatusBadRequest)
		return
	}
	if setCookie {
		http.SetCookie(w, &http.Cookie{
			Name: sessionCookie, Value: sid, Path: "/",
			HttpOnly: true, SameSite: http.SameSiteLaxMode,
		})
	}
	callback := p.op.AuthorizationEndpoint().Absolute(p.issuer) + "/callback?id=" + url.QueryEscape(authReq.GetID())
	http.Redirect(w, r, callback, http.StatusFound)
}

// serveCancel is the form's Cancel link: error=access_denied at the client.
func (p *Provider) serveCancel(w http.ResponseWriter, r *http.Request) {
	authReq, err := p.st.AuthRequestByID(r.Context(), r.URL.Query().Get(authRequestParam))
	if err != nil {
		http.Error(w, "unknown or expired authorization request", http.StatusBadRequest)
		return
	}
	op.AuthRequestError(w, r, authReq, oidc.ErrAccessDenied().WithDescription("the user cancelled"), p.op)
}

// serveLoggedOut is where end_session lands without a
// post_logout_redirect_uri.
func serveLoggedOut(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte("<!doctype html><title>oidctest: signed out</title><h1>Signed out</h1>\n"))
}
