# The R side of jupyter_blocks.io.r: a long-lived worker that runs R blocks, one request at a time.
#
#   Rscript worker.R REQUEST_FD RESPONSE_FD MARKER
#
# Requests arrive on REQUEST_FD and answers leave on RESPONSE_FD, so that whatever a block prints
# (stdout, stderr, even from programs it starts) never mixes with the protocol. After each
# exchange MARKER is written to stdout and to stderr: Python reads each stream up to it, so the
# output of one call is never attributed to the next.
#
# A message is: its JSON header's length and its payload's length (two little-endian doubles),
# the header (UTF-8 JSON), then the payload (the vectors' bytes, in the order the header lists
# them). Vector encoding, shared with _to_r.py and _from_r.py ("t" is the kind, "n" the length, "bytes" the
# number of payload bytes):
#   int   int32, NA = INT_MIN (R's own NA_integer_)        fct   int32 codes + "levels", "ordered"
#   dbl   float64, NA = R's NA_real_ bit pattern            date  float64 days since 1970-01-01
#   lgl   int32 0/1, NA = INT_MIN (R's own NA_logical_)     time  float64 seconds, "tz" or null
#   chr   NUL-terminated UTF-8; when "mask", n bytes follow (1 = NA)
# Only base R and jsonlite are used.

local({
  args <- commandArgs(trailingOnly = TRUE)
  requests <- file(sprintf("/dev/fd/%s", args[[1]]), open = "rb", raw = TRUE)
  responses <- file(sprintf("/dev/fd/%s", args[[2]]), open = "wb", raw = TRUE)
  marker <- args[[3]]
  options(warn = 1, keep.source = TRUE, showWarnCalls = FALSE)
  suppressPackageStartupMessages(library(jsonlite))

  # --- decoding what Python sends ---------------------------------------------------------------

  decode_vector <- function(spec, payload, at) {
    n <- spec$n
    bytes <- payload[seq_len(spec$bytes) + at]
    value <- switch(spec$t,
      int = readBin(bytes, "integer", n, size = 4L, endian = "little"),
      lgl = readBin(bytes, "logical", n, size = 4L, endian = "little"),
      dbl = readBin(bytes, "double", n, size = 8L, endian = "little"),
      chr = {
        text_bytes <- if (isTRUE(spec$mask)) bytes[seq_len(length(bytes) - n)] else bytes
        strings <- readBin(text_bytes, "character", n)
        Encoding(strings) <- "UTF-8"
        if (isTRUE(spec$mask)) strings[bytes[length(text_bytes) + seq_len(n)] == as.raw(1L)] <- NA
        strings
      },
      fct = {
        codes <- readBin(bytes, "integer", n, size = 4L, endian = "little")
        levels <- as.character(unlist(spec$levels))
        Encoding(levels) <- "UTF-8"
        structure(codes, levels = levels,
                  class = if (isTRUE(spec$ordered)) c("ordered", "factor") else "factor")
      },
      date = structure(readBin(bytes, "double", n, size = 8L, endian = "little"), class = "Date"),
      time = {
        seconds <- readBin(bytes, "double", n, size = 8L, endian = "little")
        if (is.null(spec$tz)) structure(seconds, class = c("POSIXct", "POSIXt"))
        else structure(seconds, class = c("POSIXct", "POSIXt"), tzone = spec$tz)
      },
      stop("unknown vector kind ", spec$t)
    )
    list(value = value, at = at + spec$bytes)
  }

  decode_value <- function(spec, payload, at) {
    switch(spec$k,
      null = list(value = NULL, at = at),
      json = list(value = fromJSON(spec$text, simplifyVector = TRUE), at = at),
      vec = decode_vector(spec$v, payload, at),
      list = {
        items <- vector("list", length(spec$items))
        for (i in seq_along(spec$items)) {
          got <- decode_value(spec$items[[i]], payload, at)
          if (!is.null(got$value)) items[[i]] <- got$value
          at <- got$at
        }
        if (!is.null(spec$names)) names(items) <- as.character(unlist(spec$names))
        list(value = items, at = at)
      },
      frame = {
        columns <- vector("list", length(spec$cols))
        for (i in seq_along(spec$cols)) {
          got <- decode_vector(spec$cols[[i]]$v, payload, at)
          columns[[i]] <- got$value
          at <- got$at
        }
        names(columns) <- vapply(spec$cols, function(col) col$name, "")
        attr(columns, "row.names") <- .set_row_names(as.integer(spec$nrow))
        class(columns) <- "data.frame"
        list(value = columns, at = at)
      },
      stop("unknown value kind ", spec$k)
    )
  }

  # --- encoding what goes back ------------------------------------------------------------------

  chunks <- NULL
  add_chunk <- function(bytes) chunks[[length(chunks) + 1L]] <<- bytes

  encode_vector <- function(x, where) {
    n <- length(x)
    if (is.factor(x)) {
      bytes <- writeBin(as.integer(unclass(x)), raw(), size = 4L, endian = "little")
      spec <- list(t = "fct", n = n, levels = I(enc2utf8(levels(x))), ordered = is.ordered(x))
    } else if (inherits(x, "Date")) {
      bytes <- writeBin(as.double(unclass(x)), raw(), size = 8L, endian = "little")
      spec <- list(t = "date", n = n)
    } else if (inherits(x, "POSIXt")) {
      x <- as.POSIXct(x)
      tz <- attr(x, "tzone")
      tz <- if (is.null(tz) || !nzchar(tz[[1]])) NULL else tz[[1]]
      bytes <- writeBin(as.double(unclass(x)), raw(), size = 8L, endian = "little")
      spec <- list(t = "time", n = n, tz = tz)
    } else if (is.logical(x)) {
      bytes <- writeBin(as.vector(x), raw(), size = 4L, endian = "little")
      spec <- list(t = "lgl", n = n)
    } else if (is.integer(x)) {
      bytes <- writeBin(as.vector(unclass(x)), raw(), size = 4L, endian = "little")
      spec <- list(t = "int", n = n)
    } else if (is.double(x)) {
      bytes <- writeBin(as.vector(unclass(x)), raw(), size = 8L, endian = "little")
      spec <- list(t = "dbl", n = n)
    } else if (is.character(x)) {
      x <- enc2utf8(as.vector(x))
      missing <- is.na(x)
      x[missing] <- ""
      bytes <- writeBin(x, raw())
      if (any(missing)) bytes <- c(bytes, as.raw(missing))
      spec <- list(t = "chr", n = n, mask = any(missing))
    } else {
      stop(sprintf("%s of class `%s` cannot go back to Python; return a data.frame, an atomic ",
                   where, paste(class(x), collapse = "/")),
           "vector, a factor, a Date or POSIXct vector, NULL or a list of these", call. = FALSE)
    }
    spec$bytes <- length(bytes)
    add_chunk(bytes)
    spec
  }

  encode_value <- function(x, where = "the value") {
    if (is.null(x)) return(list(k = "null"))
    if (is.data.frame(x)) {
      columns <- lapply(seq_along(x), function(i) {
        list(name = enc2utf8(names(x)[[i]]),
             v = encode_vector(x[[i]], sprintf("column `%s`", names(x)[[i]])))
      })
      return(list(k = "frame", nrow = nrow(x), cols = columns))
    }
    if (is.list(x) && !is.object(x)) {
      items <- lapply(seq_along(x), function(i) encode_value(x[[i]], sprintf("item %d", i)))
      return(list(k = "list", names = if (is.null(names(x))) NULL else I(enc2utf8(names(x))),
                  items = items))
    }
    if (!is.null(dim(x))) {
      stop(sprintf("%s is a matrix or array, which cannot go back to Python; ", where),
           "return as.data.frame(...) of it", call. = FALSE)
    }
    names <- names(x)
    list(k = "vec", v = encode_vector(x, where),
         names = if (is.null(names)) NULL else I(enc2utf8(names)))
  }

  # --- the protocol -----------------------------------------------------------------------------

  send <- function(header, payload_chunks = list()) {
    text <- charToRaw(enc2utf8(as.character(toJSON(header, auto_unbox = TRUE, null = "null",
                                                   digits = NA, na = "null"))))
    total <- sum(vapply(payload_chunks, length, 0))
    writeBin(c(length(text), total), responses, size = 8L, endian = "little")
    writeBin(text, responses)
    for (bytes in payload_chunks) writeBin(bytes, responses)
    flush(responses)
  }

  end_exchange <- function() {
    # A sink the block left open would swallow the marker.
    while (sink.number() > 0L) sink()
    if (sink.number(type = "message") != 2L) sink(type = "message")
    flush(stdout())
    cat(marker, file = stdout())
    flush(stdout())
    cat(marker, file = stderr())
    flush(stderr())
  }

  receive <- function() {
    lengths <- readBin(requests, "double", 2L, size = 8L, endian = "little")
    if (length(lengths) < 2L) return(NULL)
    header <- fromJSON(rawToChar(readBin(requests, "raw", lengths[[1]])), simplifyVector = FALSE)
    payload <- if (lengths[[2]] > 0) readBin(requests, "raw", lengths[[2]]) else raw()
    list(header = header, payload = payload)
  }

  # --- running a block --------------------------------------------------------------------------

  source_line <- function(call, srcfile) {
    ref <- attr(call, "srcref")
    if (is.null(ref)) return(NA_integer_)
    file <- attr(ref, "srcfile")
    if (!identical(file, srcfile)) return(NA_integer_)
    as.integer(ref[[1]])
  }

  one_line <- function(call) {
    if (is.null(call)) return(NULL)
    text <- paste(trimws(deparse(call, width.cutoff = 200L, nlines = 3L)), collapse = " ")
    if (nchar(text) > 200L) paste0(substr(text, 1L, 197L), "...") else text
  }

  # The frames of the user's code when a condition is signalled: from the first call under
  # `entry` to the last one before the handler's own; each with the line of the cell running in it.
  user_frames <- function(calls, entry_names, srcfile) {
    heads <- vapply(calls, function(call) {
      head <- call[[1]]
      if (is.name(head)) as.character(head) else ""
    }, "")
    entries <- which(heads %in% entry_names)
    entry <- if (length(entries)) entries[[length(entries)]] else NA_integer_
    # A top-level expression is evaluated through eval() frames of our own.
    if (!is.na(entry) && heads[[entry]] == entry_names[[2]]) {
      while (entry < length(heads) && heads[[entry + 1L]] == "eval") entry <- entry + 1L
    }
    last <- length(calls) - 1L  # the handler itself
    while (last > 0L && heads[[last]] %in% c(".handleSimpleError", "h", "signalCondition",
                                              "withCallingHandlers")) {
      last <- last - 1L
    }
    first <- if (is.na(entry)) 1L else entry + 1L
    frames <- list()
    if (first > last) return(list(frames = frames, line = source_line(calls[[length(calls)]], srcfile)))
    for (i in first:last) {
      frames[[length(frames) + 1L]] <- list(call = one_line(calls[[i]]),
                                            line = source_line(calls[[i + 1L]], srcfile))
    }
    lines <- vapply(frames, function(frame) frame$line, 0L)
    known <- lines[!is.na(lines)]
    list(frames = frames, line = if (length(known)) known[[length(known)]] else NA_integer_)
  }

  run_block <- function(request, payload) {
    lines <- strsplit(request$source, "\n", fixed = TRUE)[[1]]
    srcfile <- srcfilecopy("cell", lines)
    failure <- NULL
    top_line <- NA_integer_
    on_error <- function(condition) {
      found <- user_frames(sys.calls(), c(".jupyter_blocks_entry", ".jupyter_blocks_top"), srcfile)
      line <- if (is.na(found$line)) top_line else found$line
      frames <- found$frames
      if (!is.na(top_line)) {
        # Failed while the block's top-level code ran (a library() call, a stop() outside any
        # function): that statement is the outermost frame.
        frames <- c(list(list(call = "(top level)", line = top_line)), frames)
      }
      failure <<- list(message = conditionMessage(condition),
                       call = one_line(conditionCall(condition)),
                       line = line, frames = frames)
    }
    env <- new.env(parent = globalenv())
    setwd(request$cwd)
    at <- 0
    inputs <- list()
    for (spec in request$inputs) {
      got <- decode_value(spec, payload, at)
      inputs[length(inputs) + 1L] <- list(got$value)
      at <- got$at
    }
    variables <- decode_value(request$variables, payload, at)$value
    if (is.null(variables)) variables <- list()

    parsed <- tryCatch(parse(text = lines, srcfile = srcfile, keep.source = TRUE),
                       error = function(condition) condition)
    if (inherits(parsed, "error")) {
      text <- conditionMessage(parsed)
      where <- regmatches(text, regexec("^cell:([0-9]+):([0-9]+): ([^\n]*)", text))[[1]]
      if (length(where)) {
        return(list(ok = FALSE, error = list(message = where[[4]], call = NULL, syntax = TRUE,
                                             line = as.integer(where[[2]]), frames = list())))
      }
      return(list(ok = FALSE, error = list(message = text, call = NULL, syntax = TRUE,
                                           line = NULL, frames = list())))
    }
    guarded <- function(expr) {
      tryCatch(withCallingHandlers(expr, error = on_error), error = function(condition) NULL)
    }
    refs <- attr(parsed, "srcref")
    .jupyter_blocks_top <- function(expr) eval(expr, env)
    for (i in seq_along(parsed)) {
      top_line <- as.integer(refs[[i]][[1]])
      guarded(.jupyter_blocks_top(parsed[[i]]))
      if (!is.null(failure)) return(list(ok = FALSE, error = failure))
    }
    top_line <- NA_integer_

    name <- request[["function"]]
    block <- get0(name, envir = env, inherits = FALSE, mode = "function")
    if (is.null(block)) {
      defined <- Filter(function(n) is.function(get(n, envir = env)), ls(env))
      found <- if (length(defined)) paste0("`", defined, "`", collapse = ", ") else "none"
      return(list(ok = FALSE, error = list(
        message = sprintf("the block defines no function `%s` (%s blocks define %s <- function(%s) {...}); functions defined: %s",
                          name, request$block_type, name, request$signature, found),
        call = NULL, line = NULL, frames = list())))
    }
    formal_names <- names(formals(block))
    if (!("..." %in% formal_names)) {
      variables <- variables[names(variables) %in% formal_names]
    } else {
      # R matches a named argument to a formal before `...` by prefix: a variable `d` would
      # take the place of df_1. Only exact names reach those formals.
      before_dots <- formal_names[seq_len(match("...", formal_names) - 1L)]
      hijacks <- vapply(names(variables), function(n) {
        !(n %in% before_dots) && any(startsWith(before_dots, n))
      }, TRUE)
      variables <- variables[!hijacks]
    }
    arguments <- lapply(seq_along(inputs), function(i) as.name(sprintf("df_%d", i)))
    call_env <- new.env(parent = env)
    for (i in seq_along(inputs)) {
      assign(sprintf("df_%d", i), inputs[[i]], envir = call_env)
    }
    assign(name, block, envir = call_env)
    # The block is called as `transform(df_1, df_2, ...)`, so an error message shows that call
    # rather than the whole data frames deparsed.
    entry_call <- as.call(c(as.name(name), arguments, if (length(variables)) list(quote(...))))
    entry <- eval(call("function", as.pairlist(alist(... = )), entry_call), call_env)
    assign(".jupyter_blocks_entry", entry, envir = call_env)
    value <- guarded(eval(as.call(c(as.name(".jupyter_blocks_entry"), variables)), call_env))
    if (!is.null(failure)) return(list(ok = FALSE, error = failure))
    chunks <<- list()
    header <- tryCatch(encode_value(value, "the block's return value"), error = function(condition) {
      failure <<- list(message = conditionMessage(condition), call = NULL, line = NULL,
                       frames = list())
    })
    if (!is.null(failure)) return(list(ok = FALSE, error = failure))
    list(ok = TRUE, value = header)
  }

  send(list(ok = TRUE, version = R.version.string, pid = Sys.getpid()))
  end_exchange()
  repeat {
    message <- receive()
    if (is.null(message)) break
    answer <- tryCatch(run_block(message$header, message$payload),
                       error = function(condition) {
                         list(ok = FALSE, error = list(
                           message = paste("jupyter-blocks R worker:", conditionMessage(condition)),
                           call = NULL, line = NULL, frames = list()))
                       })
    if (isTRUE(answer$ok)) send(answer, chunks) else send(answer)
    chunks <- list()
    end_exchange()
  }
})
