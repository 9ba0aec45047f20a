// Model Workbench: the browser side. One global, window.modelWorkbench, so nothing clashes with
// WebUI or other extensions. WebUI loads this file itself; the standalone app runs it on page load.
(function () {
    "use strict";
    if (window.modelWorkbench) {
        return;
    }

    function app() {
        // WebUI provides gradioApp(); the standalone page is a plain gradio app.
        if (typeof gradioApp === "function") {
            return gradioApp();
        }
        var root = document.querySelector("gradio-app");
        return (root && root.shadowRoot) || document;
    }

    function setTextareaValue(textarea, value) {
        textarea.value = value;
        // gradio listens for input events; WebUI's updateInput does the same.
        textarea.dispatchEvent(new Event("input", {bubbles: true}));
    }

    // Append text to the txt2img (or img2img) prompt, separated by a comma.
    function sendToPrompt(text, tab) {
        var target = tab === "img2img" ? "img2img" : "txt2img";
        var textarea = app().querySelector("#" + target + "_prompt textarea");
        if (!textarea) {
            return false;
        }
        var current = textarea.value.trim();
        var separator = current && !current.endsWith(",") ? ", " : (current ? " " : "");
        setTextareaValue(textarea, current + separator + text);
        var tabButton = Array.from(app().querySelectorAll("#tabs > .tab-nav > button"))
            .find(function (b) { return b.textContent.trim().toLowerCase() === target; });
        if (tabButton) {
            tabButton.click();
        }
        return true;
    }

    function copyText(text) {
        if (navigator.clipboard && window.isSecureContext) {
            return navigator.clipboard.writeText(text);
        }
        var area = document.createElement("textarea");
        area.value = text;
        document.body.appendChild(area);
        area.select();
        document.execCommand("copy");
        document.body.removeChild(area);
        return Promise.resolve();
    }

    // The Train tab's checkpoint table: a row's Preview button hands its file to gradio through a
    // hidden textbox and clicks a hidden button, so the preview runs as an ordinary gradio event.
    function trainPreview(path) {
        var box = app().querySelector("#mw_train_preview_path textarea, #mw_train_preview_path input");
        var button = app().querySelector("#mw_train_preview_hidden");
        if (!box || !button) {
            return false;
        }
        setTextareaValue(box, path);
        setTimeout(function () { button.click(); }, 50);
        return true;
    }

    window.modelWorkbench = {app: app, sendToPrompt: sendToPrompt, copyText: copyText, trainPreview: trainPreview};
})();
