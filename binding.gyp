{
  # Engineer E: the macOS start-up scan module, and the Linux-only test addon of the macOS
  # translation against native/test-double.
  "includes": ["native/macos/macos.gypi", "native/test-double/es_test.gypi"],
  "targets": [
    {
      "target_name": "keysentry_native",
      "sources": [
        "native/core/addon.cc",
        "native/core/batch.cc",
        "native/core/diagnostics.cc",
        "native/core/queue.cc",
        "native/core/session.cc",
        "native/core/synthetic.cc",
        "native/core/urgent_text.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/core"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"],
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/linux/backends.cc",
            "native/linux/audit.cc",
            "native/linux/audit_parse.cc",
            "native/linux/audit_rules.cc",
            "native/linux/connector.cc",
            "native/linux/diagnostics.cc",
            "native/linux/procfs.cc"
          ],
          "libraries": ["-lpthread"]
        }],
        # macOS: the EndpointSecurity backend (engineer E's native/macos/). The ES client file
        # uses blocks; the library is in usr/lib, not a framework.
        ["OS=='mac'", {
          "sources": [
            "native/macos/es_backend.cc",
            "native/macos/es_errors.cc",
            "native/macos/es_translate.cc"
          ],
          "libraries": ["-lEndpointSecurity", "-lbsm"],
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_ENABLE_CPP_RTTI": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "OTHER_CPLUSPLUSFLAGS": ["-fblocks"]
          }
        }]
      ]
    }
  ]
}
