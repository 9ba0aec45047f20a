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

    // Fill a hidden gradio textbox and press its hidden button: how HTML cards talk to Python handlers.
    // Works in gradio 3.41 (A1111) and 4 (Forge): both listen for input events on the textarea.
    function pressHidden(textboxId, buttonId, value) {
        var textarea = app().querySelector("#" + textboxId + " textarea, #" + textboxId + " input");
        var button = app().querySelector("#" + buttonId);
        if (!textarea || !button) {
            return false;
        }
        setTextareaValue(textarea, value);
        // Let gradio take the new value before the click reads it.
        setTimeout(function () { button.click(); }, 0);
        return true;
    }

    function openModel(modelId, versionId) {
        var value = String(modelId) + (versionId ? ":" + String(versionId) : "");
        // Until the new details are shown, Download would still act on the model shown before: disable it at
        // once (the tab's handlers then disable and re-enable it through gradio, which owns its state).
        var download = app().querySelector("#mw_civitai_download");
        if (download) {
            download.disabled = true;
        }
        return pressHidden("mw_civitai_open", "mw_civitai_open_button", value);
    }

    // The Hugging Face sub-tab's cards: open a repo (its Install button waits, as Download does above).
    function openHubRepo(repoId) {
        var install = app().querySelector("#mw_hf_install");
        if (install) {
            install.disabled = true;
        }
        return pressHidden("mw_hf_open", "mw_hf_open_button", String(repoId));
    }

    // Both sub-tabs show the one download queue: the panel in view gets the answer.
    function queueAction(action, jobId) {
        var hubQueue = app().querySelector("#mw_hf_queue");
        var prefix = hubQueue && hubQueue.offsetParent !== null ? "mw_hf" : "mw_civitai";
        return pressHidden(prefix + "_queue_action", prefix + "_queue_action_button", action + ":" + jobId);
    }

    // An example image's parameters into txt2img: WebUI's own "paste" button parses an infotext
    // written into the prompt box and fills every field it knows (prompt, negative, steps, seed...).
    function sendParams(infotext) {
        var textarea = app().querySelector("#txt2img_prompt textarea");
        if (!textarea) {
            return false;
        }
        setTextareaValue(textarea, infotext);
        var paste = app().querySelector("#paste");
        if (paste) {
            paste.click();
        }
        var tabButton = Array.from(app().querySelectorAll("#tabs > .tab-nav > button"))
            .find(function (b) { return b.textContent.trim().toLowerCase() === "txt2img"; });
        if (tabButton) {
            tabButton.click();
        }
        return true;
    }

    // After a model lands: re-render WebUI's Extra Networks cards (its own hidden refresh button), so the
    // new card shows with its preview without pressing Refresh. Nothing to do outside WebUI.
    function refreshExtraNetworks() {
        ["txt2img", "img2img"].forEach(function (tab) {
            var button = app().querySelector("[id^='" + tab + "_'][id$='_extra_refresh_internal']");
            if (button) {
                button.dispatchEvent(new Event("click"));
            }
        });
    }

    // The Train tab's checkpoint table: a row's Preview button hands its file to gradio the same way.
    function trainPreview(path) {
        return pressHidden("mw_train_preview_path", "mw_train_preview_hidden", path);
    }

    window.modelWorkbench = {app: app, sendToPrompt: sendToPrompt, copyText: copyText, openModel: openModel,
                             openHubRepo: openHubRepo, queueAction: queueAction, sendParams: sendParams,
                             refreshExtraNetworks: refreshExtraNetworks, trainPreview: trainPreview};
})();
