-- GET a view: wrk -s view.lua URL (token in CSIP_TOKEN, view path in CSIP_VIEW).
dofile(os.getenv("CSIP_LOAD_DIR") .. "/report.lua")
wrk.method = "GET"
wrk.path = os.getenv("CSIP_VIEW")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("CSIP_TOKEN")
