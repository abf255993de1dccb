package config

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText redacts the secret when a Config is encoded (JSON, YAML), so a
// dumped config never carries it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
