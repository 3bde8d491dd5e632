;; empty.wat: a module without any section.
;; Rebuild: wat2wasm empty.wat -o empty.wasm (see Makefile)
(module)
