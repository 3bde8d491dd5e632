module rawguest

go 1.26
