// Package config is the gateway.yaml schema (SPEC §3), its loading and its
// validation.
//
// Load reads the file into a yaml.Node tree and walks it against the Go types
// itself (decode.go), starting from Default(): every key must be known at
// every depth, every scalar value has the environment expanded (env.go) and is
// then decoded as its field's type, explicit zero values replace defaults,
// list elements of routes start from DefaultRoute(), and the line of every
// YAML path is recorded. Load then normalises case, resolves relative file
// paths against the config file's directory, reads the _file secrets, fills
// the derived defaults (cookie names) and runs Validate, a pure function
// returning every problem as a *FieldError. Load attaches file and line to
// each, so `portcullis check` prints "file:line: yaml.path: message".
//
// The consumers of a loaded Config (tokens, users, the gateway's routes)
// report their own problems as *FieldError too, built with Errorf at the YAML
// path they were given; Config.Locate flattens such an error and places each
// problem at its line from the index the decoder built (Config.Line), so
// check and serve print them the same way without parsing the file again.
//
// ReloadBlockers tells a SIGHUP reload which changes need a restart.
package config
