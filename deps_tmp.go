//go:build tools

package tools
import (
 _ "github.com/golang-jwt/jwt/v5"
 _ "github.com/redis/go-redis/v9"
 _ "gopkg.in/yaml.v3"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "golang.org/x/crypto/argon2"
 _ "golang.org/x/term"
)

