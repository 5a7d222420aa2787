{
  "targets": [{
    "target_name": "fuse3_native",
    "sources": ["src/fuse3-native.c"],
    "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags fuse3)"],
    "xcode_settings": {
      "OTHER_CFLAGS": ["-O2", "-Wall", "<!@(pkg-config --cflags fuse3)"]
    },
    "libraries": ["<!@(pkg-config --libs fuse3)"],
    "defines": ["NAPI_VERSION=8"]
  }]
}
