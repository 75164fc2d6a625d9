// The upload page's one script (served by static-assets.ts; the pages' CSP allows scripts from
// hubgate only, never inline). Without JavaScript the form posts as a plain multipart form and the
// server redirects; with it, this sends the same form with XMLHttpRequest, shows a <progress> of
// the bytes sent, then goes where the server's redirect went, or shows the error page's message.
// Plain ES2017 in a string: it is sent to browsers as is, not compiled with the server.

export const UPLOAD_SCRIPT = `'use strict';
(function () {
  var form = document.querySelector('form[enctype="multipart/form-data"]');
  if (!form || !form.querySelector('input[type=file]') || !window.FormData || !window.XMLHttpRequest || !window.DOMParser) return;
  var button = form.querySelector('button[type=submit]');

  var problem = document.createElement('p');
  problem.className = 'notice error';
  problem.setAttribute('role', 'alert');
  problem.hidden = true;
  form.parentNode.insertBefore(problem, form);

  var status = document.createElement('p');
  status.className = 'upload-status';
  status.hidden = true;
  var bar = document.createElement('progress');
  bar.id = 'upload-progress';
  bar.max = 1;
  bar.value = 0;
  var label = document.createElement('span');
  label.id = 'upload-progress-text';
  label.setAttribute('role', 'status');
  bar.setAttribute('aria-labelledby', label.id);
  status.appendChild(bar);
  status.appendChild(document.createTextNode(' '));
  status.appendChild(label);
  form.appendChild(status);

  var UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  function shown(n) {
    var i = 0;
    while (n >= 1000 && i < UNITS.length - 1) { n /= 1000; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + UNITS[i];
  }

  /** The title and message of an error page (as text: nothing of it is rendered as HTML). */
  function messageOf(page) {
    var doc = new DOMParser().parseFromString(page || '', 'text/html');
    var parts = [doc.querySelector('main h1'), doc.querySelector('main .notice')]
      .filter(function (el) { return el && el.textContent.trim(); })
      .map(function (el) { return el.textContent.trim(); });
    return parts.join(': ');
  }

  function fail(message) {
    status.hidden = true;
    problem.textContent = message;
    problem.hidden = false;
    if (button) button.disabled = false;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    // The form's fields in order (the CSRF field first, as the server reads it first).
    var data = new FormData(form);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    problem.hidden = true;
    bar.removeAttribute('value');
    label.textContent = 'Starting the upload…';
    status.hidden = false;
    if (button) button.disabled = true;
    xhr.upload.addEventListener('progress', function (e) {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      label.textContent = shown(e.loaded) + ' of ' + shown(e.total) + ' sent';
    });
    xhr.upload.addEventListener('load', function () {
      label.textContent = 'All ' + shown(bar.max) + ' sent; committing…';
    });
    xhr.addEventListener('load', function () {
      // The server answers a commit with a redirect (followed here) and a refusal with an error page.
      if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL && xhr.responseURL !== form.action) {
        window.location.assign(xhr.responseURL);
        return;
      }
      fail(messageOf(xhr.responseText) || 'The upload failed (HTTP ' + xhr.status + '). Reload the page and try again.');
    });
    xhr.addEventListener('error', function () {
      fail('The upload failed: the connection to hubgate was lost. Check your connection and try again.');
    });
    xhr.send(data);
  });
})();
`;
