// Command broken does not compile; sdktest's tests check that Build
// reports the compiler's message.
package main

func main() { var x int = "not an int" }
