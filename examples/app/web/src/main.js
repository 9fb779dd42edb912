document.title = "buildsys example";
