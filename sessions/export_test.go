package sessions

// RedisError exposes the boundary translation of go-redis errors to the
// external tests, which classify real server replies with it.
var RedisError = redisError
