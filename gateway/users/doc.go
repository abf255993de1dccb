// Package users is the gateway's credential store: the users file (SPEC §3),
// its password hashes and its reloading.
//
// Flow: Load parses the whole file strictly (every hash is parsed and capped
// at load, so a request never meets a malformed or hostile hash) into an
// immutable *Set. A *Store holds the current Set behind an atomic pointer;
// Reload (SIGHUP) and Watch (polling, Kubernetes ..data swaps included)
// replace it only with a file that loads, so a broken edit never takes users
// away. Reloading writes nothing to the session store: the gateway checks the
// user (present, enabled, same password-hash Fingerprint, current roles) on
// every request.
//
// Authenticate makes unknown, wrong-password and disabled users cost the
// same: the unknown user is verified against a dummy argon2id hash with the
// default parameters and a disabled user's hash is still verified.
// Limiting how many verifications run at once is the caller's job.
package users
